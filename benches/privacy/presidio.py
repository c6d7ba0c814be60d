#!/usr/bin/env python3
"""Runs Microsoft Presidio (presidio-analyzer) on the texts of the labelled privacy corpus that
phi-scrub's allow-list lets through (allowed properties, their keys, the event and page names),
redacts what it finds, and scores it the way tests/privacy_corpus.rs scores phi-scrub: a planted
identifier is caught when none of its leak strings survives; a benign value is kept when it comes
out unchanged. Prints the table and the speed. Run by benches/privacy/presidio.sh."""

import json
import os
import sys
import time
import tomllib
from collections import defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))


def allowed_paths():
    with open(os.path.join(ROOT, "tests", "data", "privacy_corpus.toml"), "rb") as f:
        return [p.split(".") for p in tomllib.load(f)["allow"]]


def redact(analyzer, text, spacy_ner):
    results = analyzer.analyze(text=text, language="en")
    if not spacy_ner:
        results = [r for r in results if r.entity_type not in ("PERSON", "LOCATION", "NRP")]
    for r in sorted(results, key=lambda r: r.start, reverse=True):
        text = text[: r.start] + f"<{r.entity_type}>" + text[r.end:]
    return text


def scrub(value, analyzer, spacy_ner, counter):
    """The value with every string (and number, as text) redacted; object keys too."""
    if isinstance(value, dict):
        return {scrub(k, analyzer, spacy_ner, counter): scrub(v, analyzer, spacy_ner, counter) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v, analyzer, spacy_ner, counter) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        counter[0] += 1
        out = redact(analyzer, str(value), spacy_ner)
        return value if out == str(value) else out
    counter[0] += 1
    return redact(analyzer, value, spacy_ner)


def visible(event, allow):
    """What phi-scrub's allow-list keeps of an event: the allowed properties and the names."""
    props = event.get("properties", {})
    kept = {"properties": {}}
    for path in allow:
        if path[0] == "properties" and path[1] in props:
            kept["properties"][path[1]] = props[path[1]]
    for key in ("event", "name"):
        if key in event:
            kept[key] = event[key]
    return kept


def main():
    spacy_ner = os.environ.get("PRESIDIO_NER", "1") == "1"
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    model = os.environ.get("PRESIDIO_SPACY_MODEL", "en_core_web_sm")
    if not spacy_ner:
        model = "blank"
    if model == "blank":
        import spacy
        from presidio_analyzer.nlp_engine import SpacyNlpEngine

        engine = SpacyNlpEngine(models=[{"lang_code": "en", "model_name": "en_core_web_sm"}])
        engine.nlp = {"en": spacy.blank("en")}
    else:
        engine = NlpEngineProvider(
            nlp_configuration={"nlp_engine_name": "spacy", "models": [{"lang_code": "en", "model_name": model}]}
        ).create_engine()
    analyzer = AnalyzerEngine(nlp_engine=engine, supported_languages=["en"])
    allow = allowed_paths()
    cases = [json.loads(line) for line in open(os.path.join(ROOT, "tests", "data", "privacy_corpus.jsonl"), encoding="utf-8")]
    planted, benign = defaultdict(lambda: [0, 0]), defaultdict(lambda: [0, 0])
    counter = [0]
    started = time.perf_counter()
    for case in cases:
        out = scrub(visible(case["event"], allow), analyzer, spacy_ner, counter)
        text = json.dumps(out, ensure_ascii=False)
        if case["kind"] == "benign":
            at = out
            for k in case["path"].split("."):
                at = at.get(k) if isinstance(at, dict) else None
            ok = at == case["value"]
            benign[case["group"]][0] += 1
            benign[case["group"]][1] += ok
        else:
            ok = not any(l in text for l in case["leak"])
            planted[case["kind"]][0] += 1
            planted[case["kind"]][1] += ok
    secs = time.perf_counter() - started
    print(f"Presidio {'with spaCy NER (' + model + ')' if spacy_ner else 'patterns only (no NER model)'}")
    print("| planted kind | cases | caught | recall |\n| --- | --- | --- | --- |")
    for k in sorted(planted):
        n, ok = planted[k]
        print(f"| {k} | {n} | {ok} | {100 * ok / n:.1f}% |")
    others = [v for k, v in planted.items() if k != "person_name"]
    n, ok = sum(v[0] for v in others), sum(v[1] for v in others)
    print(f"| **all but names** | {n} | {ok} | **{100 * ok / n:.1f}%** |")
    n, ok = planted["person_name"]
    print(f"| **names** | {n} | {ok} | **{100 * ok / max(n, 1):.1f}%** |")
    print("\n| benign group | values | changed |\n| --- | --- | --- |")
    for k in sorted(benign):
        n, ok = benign[k]
        print(f"| {k} | {n} | {n - ok} |")
    n, ok = sum(v[0] for v in benign.values()), sum(v[1] for v in benign.values())
    print(f"| **all** | {n} | **{n - ok} ({100 * (n - ok) / n:.1f}%)** |")
    print(f"\nspeed: {len(cases) / secs:.0f} events/s ({counter[0]} texts, {len(cases)} events in {secs:.2f} s, one thread)")


if __name__ == "__main__":
    sys.exit(main())
