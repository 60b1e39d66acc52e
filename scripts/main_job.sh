#!/usr/bin/env bash
# The main job: index CACM, Cranfield and Vaswani, rank them with BM25 (Anserini
# defaults and the classic k1=1.2, b=0.75), evaluate, and print a leaderboard per
# collection with paired t-tests against the default BM25. Outputs go to
# indexes/ and runs/ (git-ignored); rerunning replaces them.
# The collections are the built-in copies inside the package (`irkit datasets`),
# named on the command line; IRKIT_DATA=/path/to/datasets uses files there instead.
set -euo pipefail
cd "$(dirname "$0")/.."
IRKIT=${IRKIT:-.venv/bin/irkit}
mkdir -p indexes runs

declare -A DOCS=([cacm]=cacm [cranfield]=cranfield [vaswani]=vaswani)
declare -A TOPICS=([cacm]=cacm [cranfield]=cranfield [vaswani]=vaswani)
declare -A QRELS=([cacm]=cacm [cranfield]=cranfield [vaswani]=vaswani)
if [ -n "${IRKIT_DATA:-}" ]; then
  DOCS=([cacm]=$IRKIT_DATA/cacm/cacm.tar.gz [cranfield]=$IRKIT_DATA/cranfield/cran.all.1400 [vaswani]=$IRKIT_DATA/vaswani/doc-text.trec)
  TOPICS=([cacm]=$IRKIT_DATA/cacm/topics.cacm.txt [cranfield]=$IRKIT_DATA/cranfield/cran.qry [vaswani]=$IRKIT_DATA/vaswani/query-text.trec)
  QRELS=([cacm]=$IRKIT_DATA/cacm/qrels.cacm.txt [cranfield]=$IRKIT_DATA/cranfield/cranqrel [vaswani]=$IRKIT_DATA/vaswani/qrels)
fi

for c in cacm cranfield vaswani; do
  echo "== $c"
  "$IRKIT" index "${DOCS[$c]}" --index "indexes/$c" --force -q
  "$IRKIT" rank -q --index "indexes/$c" --topics "${TOPICS[$c]}" --output "runs/$c-bm25.run" --force
  "$IRKIT" rank -q --index "indexes/$c" --topics "${TOPICS[$c]}" --output "runs/$c-bm25-k1.2-b0.75.run" \
    -O k1=1.2 -O b=0.75 --tag bm25-k1.2-b0.75 --force
  # CACM's qrels write CACM-756 for CACM-0756: --normalise-ids maps them by number.
  norm=""; [ "$c" = cacm ] && norm="--normalise-ids"
  # Cranfield's three-column qrels carry grades (gain 5 - rel): read them as such, by name or by path.
  qf=auto; [ "$c" = cranfield ] && qf=cranfield
  "$IRKIT" leaderboard "runs/$c-bm25.run" "runs/$c-bm25-k1.2-b0.75.run" --qrels "${QRELS[$c]}" --qrels-format $qf \
    --baseline "runs/$c-bm25.run" --measures "nDCG@10 AP P@10 R@100 RR" --index "indexes/$c" $norm \
    --output "runs/$c-leaderboard.md" --force -q
done
