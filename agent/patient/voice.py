"""The patient's voice: a reply must sound like the patient talking to her doctor, not like an assistant.

Small models slip into their training's voice ("Merci pour votre compréhension.", "How can I help you
today?"), lose track of who is who (the patient speaks of "votre médecin" to the doctor, or repeats
the doctor's own sentence as hers), format like a chatbot (lists, headings, bold) or loop on the same words. `voice_problems`
names what is wrong with a reply; the engine regenerates such a reply with a reminder and, when the
model keeps at it, drops the offending sentences (`strip_problems`), or falls back.

The patterns of both languages are checked whatever the persona's language: an English assistant
phrase in a French reply is as wrong as a French one.
"""

from __future__ import annotations

import re
import unicodedata

# Assistant-speak: phrases a patient never says to her doctor.
ASSISTANT = re.compile(
    r"\bmerci( beaucoup| encore| bien)? (pour|de) (votre|ta) (compréhension|question|patience|aide)\b"
    r"|\bpour vous (aider|être utile)\b"
    r"|\b(je suis|je serai|je serais|je reste) (là|disponible) pour vous\b"
    r"|\bcomment (puis-je|est-ce que je peux|pourrais-je) vous (aider|être utile|assister)\b"
    r"|\ben tant qu(e |')(ia|intelligence artificielle|assistant|modèle|patient simulé)\b"
    r"|\bje suis (un |une |l')?(assistant|ia\b|intelligence artificielle|modèle de langage)"
    r"|\bn'hésitez pas à (me )?(le |la |les )?(poser|demander|contacter|dire)"
    r"|\bje suis là pour vous (aider|accompagner)\b"
    r"|\b(je|j')\s?(vais|peux|pourrais|voudrais) (essayer de )?vous aider\b"
    r"|\bje ne (peux|pourrai) pas vous aider\b"
    r"|\bsi vous avez besoin de (quoi que ce soit|quelque chose)\b"
    r"|\bthank you (again |so much )?for your (understanding|question|patience)\b"
    r"|\bhow (can|may) i (help|assist) you\b"
    r"|\bas an (ai|assistant|artificial intelligence|language model)\b"
    r"|\bi(?:'m| am) (an |your )?(ai|assistant|language model)\b"
    r"|\bfeel free to (ask|reach out|contact)\b"
    r"|\bi(?:'m| am) here to help\b"
    r"|\bwhat (else )?can i do (for|to help) you\b"
    r"|\bi(?:'ll| will| can| could) (try to )?help you\b"
    r"|\bi can(?:'t|not) help you with\b"
    r"|\blet me know if you need\b",
    re.IGNORECASE,
)
# Role confusion: the patient talks to her doctor about "your doctor", or of her doctor in the third person.
# A named other doctor ("mon médecin de famille", "my GP") is fine.
ROLE = re.compile(
    r"\bvotre (médecin|docteur)\b(?! de garde)"
    r"|\b(mon|ma) (médecin|docteur|doctoresse)\b(?! (de famille|traitant|généraliste|du travail|spécialiste|d'avant))"
    r"|\byour (doctor|physician|gp)\b"
    r"|\bmy (doctor|physician)\b(?! (back home|before|at home|in|from))",
    re.IGNORECASE,
)
# Chatbot formatting: list items, headings, bold.
FORMAT = re.compile(r"^\s*([-*•]\s|\d+[.)]\s|#{1,6}\s)|\*\*[^*]+\*\*", re.MULTILINE)
ECHO_WORDS = 6  # a run of this many of the doctor's words, in order, is an echo, not an answer
# A small model that loses its way says the same words over and over ("je ne peux pas parler de ça, je ne peux
# pas réagir, je ne peux pas parler de ça…"). People repeat themselves too ("I don't know, I don't know"), so a
# loop is a run of LOOP_WORDS words said three times, or of LOOP_LONG_WORDS words said twice.
LOOP_WORDS = 4
LOOP_LONG_WORDS = 7

_SENTENCE = re.compile(r"(?<=[.!?…])\s+")


def _words(text: str) -> list[str]:
    folded = unicodedata.normalize("NFKC", text).lower().replace("’", "'")
    return re.findall(r"[\w']+", folded)


def echoes(reply: str, clinician: str, run: int = ECHO_WORDS) -> bool:
    """Whether the reply repeats `run` consecutive words of the clinician's turn."""
    theirs = _words(clinician)
    if len(theirs) < run:
        return False
    grams = {tuple(theirs[i : i + run]) for i in range(len(theirs) - run + 1)}
    ours = _words(reply)
    return any(tuple(ours[i : i + run]) in grams for i in range(len(ours) - run + 1))


def loops(reply: str) -> bool:
    """Whether the reply goes round in circles (see LOOP_WORDS)."""
    words = _words(reply)
    for run, most in ((LOOP_WORDS, 2), (LOOP_LONG_WORDS, 1)):
        seen: dict[tuple[str, ...], int] = {}
        for i in range(len(words) - run + 1):
            gram = tuple(words[i : i + run])
            seen[gram] = seen.get(gram, 0) + 1
            if seen[gram] > most:
                return True
    return False


_TITLES = r"(?:mme|madame|mlle|m\.|monsieur|mr\.?|mrs\.?|ms\.?|miss|dr\.?|docteure?)"


def greets_self(reply: str, own_name: str) -> bool:
    """The patient greeting or calling someone by the patient's own name ("Bonjour Mme Bertrand", "I'm sorry you
    feel unwell, Riley."): the model took the doctor's part. The name is the display name as written, or its
    first word when it has no title (a relative shares the surname, with another title: "M. Roy" is not "Mme
    Roy"). The name at the start of a sentence does not count ("Mme Bertrand, oui, c'est moi.")."""
    words = own_name.split()
    if not words:
        return False
    names = [r"\s+".join(re.escape(w) for w in words)]
    if not re.fullmatch(_TITLES, words[0], re.IGNORECASE):
        names.append(re.escape(words[0]))
    name = "(?:" + "|".join(names) + ")"
    greeting = r"\b(?:bonjour|bonsoir|salut|hello|hi|hey|good (?:morning|afternoon|evening))\W+"
    called = rf"{greeting}{name}\b|,\s*{name}\s*[.?!…]"
    return re.search(called, reply, re.IGNORECASE) is not None


def voice_problems(reply: str, clinician: str = "", own_name: str = "") -> list[str]:
    """What makes the reply sound like something other than the patient (empty: nothing). `own_name`: the
    persona's display name."""
    problems = []
    if greets_self(reply, own_name):
        problems.append("voice: role confusion (greets the patient by name)")
    if match := ASSISTANT.search(reply):
        problems.append(f"voice: assistant-speak ({match.group(0)!r})")
    if match := ROLE.search(reply):
        problems.append(f"voice: role confusion ({match.group(0)!r})")
    if FORMAT.search(reply):
        problems.append("voice: chatbot formatting")
    if clinician and echoes(reply, clinician):
        problems.append("voice: repeats the doctor's words")
    if loops(reply):
        problems.append("voice: goes round in circles")
    return problems


def strip_problems(reply: str, clinician: str = "", own_name: str = "") -> str:
    """The reply without its sentences that have a voice problem ("" when none is left). A sentence that would
    make the reply kept so far go round in circles is dropped too: a loop can span two sentences that are each
    fine alone ("… je ne peux pas accepter de l'ignorer. … Il semble inquiet, et je ne peux pas accepter de
    l'ignorer.")."""
    kept: list[str] = []
    for sentence in _SENTENCE.split(reply.strip()):
        if sentence and not voice_problems(sentence, clinician, own_name) and not loops(" ".join([*kept, sentence])):
            kept.append(sentence)
    return " ".join(kept).strip()
