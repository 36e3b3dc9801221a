// "Read the patient" (issue 15): before the patient's thoughts are revealed, the learner says what they think
// she felt, how she rated the alliance and what she was about to do. Props (from agent/web/reading.py): turn,
// moment, maxEmotions, emotions, scales, moves, actions ({read, skip}), ui (the catalog's reading.* words).
// The form shows no hidden state: only the choices. The answer goes to the server's action; a refusal is shown
// here and the answers stay, to correct and send again.
import { useState } from "react";

// Inline: a Tailwind class that Chainlit's own build never used has no CSS on the page.
const CHOICE = { marginRight: "1rem", gap: "0.35rem" };

export default function PatientReading() {
  const ui = props.ui || {};
  const max = props.maxEmotions || 3;
  const [emotions, setEmotions] = useState([]);
  const [alliance, setAlliance] = useState(() =>
    Object.fromEntries((props.scales || []).map((s) => [s.id, 4]))
  );
  const [move, setMove] = useState(null);
  const [status, setStatus] = useState({ state: "open", text: "" });
  const closed = status.state === "sending" || status.state === "done";

  const toggle = (id) => {
    if (closed) return;
    if (emotions.includes(id)) {
      setEmotions(emotions.filter((e) => e !== id));
    } else if (emotions.length < max) {
      setEmotions([...emotions, id]);
      setStatus({ state: "open", text: "" });
    } else {
      setStatus({ state: "open", text: ui.too_many });
    }
  };

  const send = async (name, payload) => {
    setStatus({ state: "sending", text: ui.sending });
    try {
      const answer = await callAction({ name, payload });
      const response = (answer && answer.response) || {};
      if (response.error) setStatus({ state: "open", text: response.error });
      else setStatus({ state: "done", text: response.ok || ui.noted_form });
    } catch (e) {
      setStatus({ state: "open", text: ui.failed });
    }
  };

  const submit = () => {
    if (!move) {
      setStatus({ state: "open", text: ui.pick_move });
      return;
    }
    send(props.actions.read, { turn: props.turn, emotions, alliance, move });
  };

  return (
    <div className="flex flex-col gap-3 rounded-md border p-3 text-sm" data-testid="patient-reading">
      <div className="font-semibold">{ui.form_title}</div>
      <p className="leading-snug">{ui.intro}</p>
      <fieldset disabled={closed} className="flex flex-col gap-1">
        <legend className="font-medium mb-1">{ui.emotions_label}</legend>
        <div className="flex flex-wrap gap-x-4 gap-y-1">
          {(props.emotions || []).map((e) => (
            <label key={e.id} className="flex items-center gap-1 cursor-pointer" style={CHOICE}>
              <input type="checkbox" checked={emotions.includes(e.id)} onChange={() => toggle(e.id)} />
              {e.name}
            </label>
          ))}
        </div>
      </fieldset>
      <fieldset disabled={closed} className="flex flex-col gap-1">
        <legend className="font-medium mb-1">{ui.alliance_label}</legend>
        <div className="flex flex-wrap gap-4">
          {(props.scales || []).map((s) => (
            <label key={s.id} className="flex items-center gap-2" style={CHOICE}>
              {s.name}
              <select
                aria-label={s.name}
                className="rounded border bg-background px-1"
                value={alliance[s.id]}
                onChange={(ev) => setAlliance({ ...alliance, [s.id]: Number(ev.target.value) })}
              >
                {[1, 2, 3, 4, 5, 6, 7].map((v) => (
                  <option key={v} value={v}>{v}</option>
                ))}
              </select>
            </label>
          ))}
        </div>
      </fieldset>
      <fieldset disabled={closed} className="flex flex-col gap-1">
        <legend className="font-medium mb-1">{ui.move_label}</legend>
        <div className="flex flex-wrap gap-x-4 gap-y-1">
          {(props.moves || []).map((m) => (
            <label key={m.id} className="flex items-center gap-1 cursor-pointer" style={CHOICE}>
              <input type="radio" name={`move-${props.turn}-${props.moment}`} checked={move === m.id} onChange={() => setMove(m.id)} />
              {m.name}
            </label>
          ))}
        </div>
      </fieldset>
      {status.text && (
        <div role="status" className={status.state === "open" ? "text-red-600" : "text-muted-foreground"}>
          {status.text}
        </div>
      )}
      {status.state !== "done" && (
        <div className="flex gap-2">
          <button type="button" disabled={closed} onClick={submit}
            className="rounded-md bg-primary px-3 py-1 text-primary-foreground disabled:opacity-50">
            {ui.submit}
          </button>
          {props.actions.skip && (
            <button type="button" disabled={closed} onClick={() => send(props.actions.skip, { turn: props.turn })}
              className="rounded-md border px-3 py-1 disabled:opacity-50">
              {ui.skip}
            </button>
          )}
        </div>
      )}
    </div>
  );
}
