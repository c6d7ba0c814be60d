#!/usr/bin/env bash
# Recall, false positives and speed of phi-scrub and of Microsoft Presidio on the same labelled
# corpus (tests/data/privacy_corpus.jsonl), in one run. Not part of CI: it installs
# presidio-analyzer and spaCy from PyPI into target/presidio-venv.
#
#   benches/privacy/presidio.sh
#
# PRESIDIO_SPACY_MODEL names the spaCy pipeline package to install and load (default
# en_core_web_sm; a wheel path or URL also works). When it cannot be installed, Presidio runs
# with its pattern recognizers only (PRESIDIO_NER=0) and says so: names are then not detected.
set -euo pipefail
cd "$(dirname "$0")/../.."

echo "== phi-scrub (preset hipaa, all detectors, Mixpanel shape, tests/data/privacy_corpus.toml)"
cargo run -q --release --example privacy_corpus

venv=target/presidio-venv
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q presidio-analyzer
fi
model="${PRESIDIO_SPACY_MODEL:-en_core_web_sm}"
ner=1
if ! "$venv/bin/python" -c "import spacy; spacy.load('${model##*/}'.split('-')[0])" 2>/dev/null; then
  if ! "$venv/bin/pip" install -q "$model" 2>/dev/null; then
    echo "(the spaCy model '$model' could not be installed from the registry: Presidio runs without NER)"
    ner=0
  fi
fi
echo
echo "== Presidio on the texts the same allow-list keeps"
PRESIDIO_NER=$ner PRESIDIO_SPACY_MODEL="$model" "$venv/bin/python" benches/privacy/presidio.py
