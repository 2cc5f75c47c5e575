#!/usr/bin/env bash
# GPU batch sizes on a small corpus (ours only; gensim's rows: device_family.sh): which batch keeps the vectors'
# quality on ~700k tokens x 5 epochs. TOKENS=tokens.txt OUT=out bash benchmarks/device_batches.sh
set -u
OUT=${OUT:-out}
TOKENS=${TOKENS:-tokens.txt}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH=/tmp/site
fi
row() {  # name, arguments...
  local name=$1; shift
  echo "== $name: $*"
  timeout 60 python3 benchmarks/bench_vs_gensim.py --corpus "$TOKENS" --pretokenized --device cuda --only ours \
    --json "$OUT/$name.json" "$@" 2>&1 | grep -E "^  (skipgram|cbow)"
}
row hs_sg_1024 --loss hs --arch skipgram --batch-size 1024
row hs_sg_4096 --loss hs --arch skipgram --batch-size 4096
row hs_cbow_1024 --loss hs --arch cbow --batch-size 1024
row hs_cbow_4096 --loss hs --arch cbow --batch-size 4096
row hs_cbow_8192 --loss hs --arch cbow --batch-size 8192
row ft_sg_4096 --fasttext --arch skipgram --batch-size 4096
row ft_cbow_4096 --fasttext --arch cbow --batch-size 4096
row ft_cbow_8192 --fasttext --arch cbow --batch-size 8192
row neg_default
row neg_sg_4096 --arch skipgram --batch-size 4096
row neg_cbow_8192 --arch cbow --batch-size 8192
