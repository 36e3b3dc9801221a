// The visit's side panel. Props (injected globally by Chainlit): level, ui, turns, trend, brief.
// The case brief stays pinned on top for the whole visit (folded once flags appear); the live monitor follows.
// Everything shown here comes from the persona's brief, the observer transcript and the evaluator's events.

const TONES = {
  rupture: "border-l-4 border-red-500 bg-red-50 dark:bg-red-950",
  repair: "border-l-4 border-emerald-500 bg-emerald-50 dark:bg-emerald-950",
  missed: "border-l-4 border-amber-500 bg-amber-50 dark:bg-amber-950",
};

function Highlighted({ text, quotes }) {
  const spans = [];
  quotes.filter(Boolean).forEach((q) => {
    const at = text.indexOf(q);
    if (at >= 0) spans.push([at, at + q.length]);
  });
  spans.sort((a, b) => a[0] - b[0]);
  const parts = [];
  let cursor = 0;
  spans.forEach(([start, end], i) => {
    if (start < cursor) return;
    parts.push(<span key={`t${i}`}>{text.slice(cursor, start)}</span>);
    parts.push(<mark key={`m${i}`} className="bg-yellow-200 dark:bg-yellow-700 rounded px-0.5">{text.slice(start, end)}</mark>);
    cursor = end;
  });
  parts.push(<span key="rest">{text.slice(cursor)}</span>);
  return <p className="text-sm leading-snug">{parts}</p>;
}

function Trend({ points, label }) {
  if (!points || points.length < 2) return null;
  const w = 260, h = 60, pad = 6;
  const values = points.map((p) => p.value);
  const lo = Math.min(0, ...values), hi = Math.max(0, ...values);
  const span = hi - lo || 1;
  const x = (i) => pad + (i * (w - 2 * pad)) / (points.length - 1);
  const y = (v) => h - pad - ((v - lo) * (h - 2 * pad)) / span;
  const path = points.map((p, i) => `${i ? "L" : "M"}${x(i).toFixed(1)},${y(p.value).toFixed(1)}`).join(" ");
  return (
    <div className="mb-3">
      <div className="text-xs text-muted-foreground mb-1">{label}</div>
      <svg width={w} height={h} role="img" aria-label={label}>
        <line x1={pad} x2={w - pad} y1={y(0)} y2={y(0)} stroke="currentColor" strokeOpacity="0.2" />
        <path d={path} fill="none" stroke="currentColor" strokeWidth="2" />
      </svg>
    </div>
  );
}

function Brief({ brief, open }) {
  if (!brief) return null;
  return (
    <details open={open} className="rounded-md border p-2" data-testid="case-brief">
      <summary className="text-sm font-semibold cursor-pointer">{brief.title}</summary>
      <p className="text-sm leading-snug whitespace-pre-wrap mt-1">{brief.text}</p>
    </details>
  );
}

export default function AllianceMonitor() {
  const ui = props.ui || {};
  if (props.level === "exam") {
    return (
      <div className="flex flex-col gap-2 p-1">
        <Brief brief={props.brief} open={true} />
        <div className="p-2 text-sm text-muted-foreground">{ui.exam}</div>
      </div>
    );
  }
  return (
    <div className="flex flex-col gap-2 p-1" data-testid="alliance-monitor">
      {/* Open until the first flag; then folded, one click away, so the flags stay in view. */}
      <Brief brief={props.brief} open={!props.turns || props.turns.length === 0} />
      <Trend points={props.trend} label={ui.trend} />
      {(!props.turns || props.turns.length === 0) && (
        <div className="text-sm text-muted-foreground">{ui.empty}</div>
      )}
      {(props.turns || []).slice().reverse().map((turn) => (
        <div key={turn.id} className="rounded-md border p-2" data-turn={turn.id}>
          <div className="text-xs font-semibold mb-1">{turn.speakerName} · #{turn.id}</div>
          <Highlighted text={turn.text} quotes={turn.flags.map((f) => f.evidence)} />
          {turn.unavailable && <div className="text-xs italic text-muted-foreground mt-1">{ui.unavailable}</div>}
          {turn.flags.map((f, i) => (
            <div
              key={i}
              className={`mt-2 rounded p-2 ${TONES[f.tone] || ""} ${f.tentative ? "opacity-70 border-dashed" : ""}`}
              data-flag={f.kind}
              data-tentative={f.tentative ? "yes" : "no"}
            >
              <div className="text-xs uppercase tracking-wide opacity-70">
                {f.kindName}{f.tentative ? ` · ${ui.tentative}` : ""}
              </div>
              <div className="text-sm font-medium">
                {f.labelName}{f.subtype ? ` · ${f.subtype}` : ""}
                <span className="ml-2 text-xs opacity-60" data-confidence={f.confidenceText}>{f.confidenceText}</span>
              </div>
              {f.rationale && <div className="text-xs mt-1 opacity-80">{f.rationale}</div>}
            </div>
          ))}
        </div>
      ))}
    </div>
  );
}
