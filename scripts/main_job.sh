#!/usr/bin/env bash
# The main job: index CACM, Cranfield and Vaswani, rank them with BM25 (Anserini
# defaults and the classic k1=1.2, b=0.75), evaluate, and print a leaderboard per
# collection with paired t-tests against the default BM25. Outputs go to
# indexes/ and runs/ (git-ignored); rerunning replaces them.
set -euo pipefail
cd "$(dirname "$0")/.."
IRKIT=${IRKIT:-.venv/bin/irkit}
DATA=${IRKIT_DATA:-../shared/datasets}
mkdir -p indexes runs

declare -A DOCS=([cacm]=cacm/cacm.tar.gz [cranfield]=cranfield/cran.all.1400 [vaswani]=vaswani/doc-text.trec)
declare -A TOPICS=([cacm]=cacm/topics.cacm.txt [cranfield]=cranfield/cran.qry [vaswani]=vaswani/query-text.trec)
declare -A QRELS=([cacm]=cacm/qrels.cacm.txt [cranfield]=cranfield/cranqrel [vaswani]=vaswani/qrels)

for c in cacm cranfield vaswani; do
  echo "== $c"
  "$IRKIT" index "$DATA/${DOCS[$c]}" --index "indexes/$c" --force -q
  "$IRKIT" rank -q --index "indexes/$c" --topics "$DATA/${TOPICS[$c]}" --output "runs/$c-bm25.run" --force
  "$IRKIT" rank -q --index "indexes/$c" --topics "$DATA/${TOPICS[$c]}" --output "runs/$c-bm25-k1.2-b0.75.run" \
    --k1 1.2 --b 0.75 --tag bm25-k1.2-b0.75 --force
  # CACM's qrels write CACM-756 for CACM-0756: --normalise-ids maps them by number.
  norm=""; [ "$c" = cacm ] && norm="--normalise-ids"
  "$IRKIT" leaderboard "runs/$c-bm25.run" "runs/$c-bm25-k1.2-b0.75.run" --qrels "$DATA/${QRELS[$c]}" \
    --baseline "runs/$c-bm25.run" --measures "nDCG@10 AP P@10 R@100 RR" --index "indexes/$c" $norm \
    --output "runs/$c-leaderboard.md" --force -q
done
