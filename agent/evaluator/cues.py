"""Lexical cues of alliance moves in French and English.

Cues are features for the detector's classifier and anchors for its evidence quotes; they
never decide a label alone. Each pattern is a regular expression matched case-insensitively
on the turn, accents optional where speakers often drop them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Cue groups, by the label they point to. Keys are stable feature names.
_CUES: dict[str, list[str]] = {
    # --- clinician repair functions -------------------------------------------------------
    "clarifying": [
        r"comment (l'|les |le |la )?(avez|as)[- ]?(vous|tu)? ?compris",
        r"(mal|pas bien) (re[cç]u|compris|exprim[ée]|expliqu[ée])",
        r"je me suis mal (exprim|expliqu)",
        r"(ce que|ce qu') je (voulais|veux) dire",
        r"(je veux|j'aimerais|laissez-moi|permettez-moi de) (m'assurer|v[ée]rifier|clarifier|pr[ée]ciser)",
        r"si je (vous )?comprends bien",
        r"malentendu",
        r"(est-ce que|est ce que) j'ai bien compris",
        r"de mon c[ôo]t[ée],? (j'ai besoin|je dois)",
        r"mon r[ôo]le (ici |c'est|est)",
        r"how (did|do) you (understand|hear|take) (that|what i|it)",
        r"(came|come|coming) (out|across) (wrong|badly|the wrong way)",
        r"(what|all) i (meant|mean|was trying to say)",
        r"(let me|i want to|i'd like to) (make sure|check|clarify|be clear)",
        r"misunderst(an|oo)d",
        r"did i (get|understand) (that|this|you) (right|correctly)",
        r"(my|the) (role|job) (here )?(is|as your)",
        r"i (wasn't|was not) clear",
        r"to be (clear|transparent)",
        r"i (may|might) have (given|left) (you )?the (wrong )?impression",
    ],
    "reflective": [
        r"je (remarque|constate|sens|vois|note) que (nous|on) ",
        r"(nous|on) (a|avons) (du mal|de la difficult[ée]) [àa]",
        r"(nous|on) tourn(e|ons) en rond",
        r"(entre nous|entre vous et moi)",
        r"ma (fa[cç]on|mani[èe]re) (de|d')",
        r"quelque chose (dans|entre) (ma|nous)",
        r"ce qui se passe (entre nous|ici|en ce moment|dans notre)",
        r"i (notice|sense|see|wonder if) (that )?we",
        r"we('re| are| keep| seem)",
        r"going (round|around) in circles",
        r"between (us|you and me)",
        r"(the way|how) i('m| am| was| have been) (asking|talking|saying|approaching|coming)",
        r"something (about|in) (how|the way) i",
        r"what('s| is) (happening|going on) (between us|here|right now)",
        r"(step back|pause) (for a moment|and look)",
    ],
    "emotional": [
        r"(vous (vous )?(sentez|[ée]tes senti|avez senti|semblez|paraissez)|tu te sens|tu t'es senti)",
        r"(frustrant|frustr[ée]|inquiet|inqui[èe]te|effray|d[ée]courag|en col[èe]re|f[âa]ch[ée]|bless[ée]|jug[ée]|"
        r"incompris|d[ée][cç]u|triste|peur|[ée]puis[ée])",
        r"(c'est|ce serait) (normal|compr[ée]hensible|l[ée]gitime)",
        r"je comprends (que|pourquoi) (vous|tu|ce soit|c'est)",
        r"(ça|cela) (doit|a d[uû]) [êe]tre (difficile|dur|lourd|p[ée]nible)",
        r"(j'entends|je sens|je vois) (que|bien que)? ?(vous|tu|c'est)",
        r"you('re| are)? (feel|felt|feeling|seem|sound)",
        r"(frustrat|upset|angry|worried|scared|afraid|hurt|judged|dismissed|misunderstood|disappoint|overwhelm|exhaust)",
        r"(makes|would make) (complete |a lot of |total )?sense",
        r"(anyone|most people) would (feel|be)",
        r"(must|can) be (hard|difficult|frustrating|exhausting|scary)",
        r"(i can|i) (hear|see|sense) (how|that|you)",
        r"that('s| is) (understandable|completely understandable|valid)",
    ],
    "exploratory": [
        r"qu'est-ce que (ça|cela) (vous|te) (fait|fait vivre)",
        r"comment (vous )?(vous sentez|vivez|viviez|vous vivez|te sens)",
        r"qu'est-ce qui (se passe|vous (inqui[èe]te|fait peur|pr[ée]occupe)|te)",
        r"(dites|dis)-moi (en )?plus",
        r"(j'aimerais|je voudrais|j'ai envie de) (comprendre|mieux comprendre|savoir|entendre)",
        r"(pouvez-vous|pourriez-vous|peux-tu|pourrais-tu) (m'en dire|me dire|m'expliquer) (plus|ce que|comment)",
        r"(qu'esp[ée]rez|qu'attendez|qu'est-ce que vous esp[ée]rez|qu'est-ce que vous attendez)",
        r"(de votre|de ton) (c[ôo]t[ée]|point de vue)",
        r"(pour vous|pour toi),? (qu'est-ce|c'est quoi|que)",
        r"what('s| is) (it|that) like for you",
        r"how (does|did|is) (that|this|it) (feel|land|sit)",
        r"what (do you|would you) (hope|want|need|expect)",
        r"(tell me|say) (more|a bit more|what)",
        r"(i'd like|i want|help me) to (understand|hear)",
        r"(from|in) your (view|perspective|point of view|side)",
        r"what('s| is) (going on|coming up) for you",
        r"how (do|would) you see",
    ],
    "explore_perspectives": [
        r"(vos|tes) (objectifs|attentes|priorit[ée]s|buts)",
        r"(nos|mes) (objectifs|obligations|responsabilit[ée]s)",
        r"(d[ée]cider|d[ée]cision|choisir|trouver) ensemble",
        r"(qui fait quoi|votre r[ôo]le|mon r[ôo]le)",
        r"your (goals|expectations|priorities|hopes)",
        r"(decide|work (it|this) out|figure (it|this) out|plan) together",
        r"(my|your) (role|responsibilit|obligation)",
    ],
    # --- ruptures (either speaker) -----------------------------------------------------------
    "withdrawal": [
        r"^\s*(ok|okay|d'accord|correct|oui|ouais|si vous le dites|comme vous voulez|whatever|fine|sure|mm+h*|hm+)\s*[.!…]*\s*$",
        r"(si vous le dites|comme vous voulez|c'est vous le m[ée]decin|vous savez mieux|c'est comme vous voulez)",
        r"(if you say so|whatever you (think|say|want)|you('re| are) the doctor|you know best|doesn't matter)",
        r"(je sais pas|je ne sais pas|aucune id[ée]e|peu importe|laissez faire|laisse faire|pas grave)",
        r"(i don't know|no idea|never ?mind|forget it|it's fine|it's nothing)",
        r"(c'est (de )?ma faute|je suis nul|[çc]a sert [àa] rien|rien ne (marche|change))",
        r"(my fault|i'm (useless|hopeless|a mess)|nothing (works|helps|changes)|what's the point)",
        r"(on peut|parlons|can we) (passer|parler d'autre|talk about something else|move on)",
        r"(je vais (le )?prendre|give me the (form|paper|prescription)|donnez-moi le (papier|formulaire))",
    ],
    "confrontation": [
        r"(vous (ne )?m'[ée]coutez (pas|jamais)|vous ne comprenez (rien|pas)|vous n'[ée]coutez)",
        r"(you('re| are) not listening|you (don't|never) listen|you don't (understand|get it|care))",
        r"(perte de temps|waste of (my )?time|ridicule|ridiculous|inacceptable|unacceptable|c'est n'importe quoi)",
        r"(pas question|hors de question|no way|absolutely not|i refuse|je refuse)",
        r"(je veux|i want|j'exige|i demand|i need you to) (voir|see|parler|talk|un autre|another|a different)",
        r"(plainte|complaint|report you|vous signaler|mon avocat|my lawyer)",
        r"(vous (m'accusez|pensez que je (mens|fais semblant|exag[èe]re))|you think i('m| am) (lying|faking|making))",
        r"(c'est (vous|toi) le probl[èe]me|the problem is you|incompetent|incomp[ée]tent)",
        r"(pourquoi (vous|tu) (ne|n')|why (won't|don't|can't) you)",
        r"(comme d'habitude|as usual|every time|chaque fois|encore une fois|again\?)",
        r"(vous devez|you have to|you need to|il faut que vous|you must)",
    ],
    # --- learner-side ruptures -------------------------------------------------------------------
    "learner_confrontation": [
        r"(vous devez|il faut (que vous|absolument)|you (have|need) to|you must|c'est non|the answer is no)",
        r"(c'est (comme )?[çc]a|that's (just )?how it is|la d[ée]cision est prise|decision is made|no discussion)",
        r"(je ne (signerai|vais pas signer)|i (won't|will not) sign)",
        r"(si vous ne|if you don't) .* (alors|then)",
    ],
    "learner_withdrawal": [
        r"(bon,? (d'accord|ok)|fine,? (i'll|we'll)|ok,? (i'll|je vais)) (vous |you )?(le |la |it )?(signer|sign|prolong|extend|give)",
        r"(passons|let's move on|changeons de sujet|on verra (plus tard|[çc]a)|we'll see)",
        r"(c'est la (proc[ée]dure|politique|r[èe]gle)|it's (the )?(policy|protocol|procedure))",
    ],
}

_FLAGS = re.IGNORECASE | re.UNICODE
CUE_GROUPS: tuple[str, ...] = tuple(_CUES)
_COMPILED: dict[str, list[re.Pattern[str]]] = {k: [re.compile(p, _FLAGS) for p in v] for k, v in _CUES.items()}


@dataclass(frozen=True)
class CueHit:
    group: str
    start: int
    end: int


def find_cues(text: str) -> list[CueHit]:
    hits: list[CueHit] = []
    for group, patterns in _COMPILED.items():
        for pattern in patterns:
            for match in pattern.finditer(text):
                if match.end() > match.start():
                    hits.append(CueHit(group, match.start(), match.end()))
    return hits


def cue_counts(text: str) -> dict[str, int]:
    counts = dict.fromkeys(CUE_GROUPS, 0)
    for hit in find_cues(text):
        counts[hit.group] += 1
    return counts
