#!/usr/bin/env bash
# One short lease of a GPU machine (16 cores + one GPU): the GPU tests, then hierarchical softmax and subword vectors
# on the GPU against gensim on the machine's 16 cores, and our hierarchical softmax on 16 real CPU threads.
#
#   python benchmarks/bench_vs_gensim.py ... writes the tokens; see benchmarks/README.md, "On a GPU machine".
#   TOKENS=tokens.txt OUT=out bash benchmarks/device_family.sh
#
# TOKENS: one document a line (bench_vs_gensim.write_tokens); the 10M-token rows repeat it 15 times. A folder .whl of
# wheels (gensim, smart_open), when present, is installed first (the device machine has no network). Each step has
# its own time limit, so one that hangs does not take the rest with it. STEPS picks some of: tests hs_gpu
# fasttext_gpu hs_cpu16 hs_gpu_10m batches (default: all but batches, the GPU batch sizes on the small corpus, ours
# only).
set -u
STEPS=${STEPS:-tests hs_gpu fasttext_gpu hs_cpu16 hs_gpu_10m}
want() { [[ " $STEPS " == *" $1 "* ]]; }
OUT=${OUT:-out}
TOKENS=${TOKENS:-tokens.txt}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH=/tmp/site
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import torch, gensim; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), 'gensim', gensim.__version__)"
want tests && echo "== tests/test_gpu.py" && timeout 150 python3 -m pytest -q -p no:cacheprovider tests/test_gpu.py 2>&1 | tee "$OUT/pytest.log" | tail -25
bench() {  # name, seconds, arguments...
  local name=$1 secs=$2; shift 2
  echo "== $name: $*"
  timeout "$secs" python3 benchmarks/bench_vs_gensim.py --corpus "$TOKENS" --pretokenized --json "$OUT/$name.json" "$@" \
    2>&1 | tail -12
}
want hs_gpu && bench hs_gpu 120 --loss hs --device cuda --threads 16
want fasttext_gpu && bench fasttext_gpu 150 --fasttext --device cuda --threads 16
want hs_cpu16 && bench hs_cpu16 90 --loss hs --device cpu --threads 16 --only ours
if want batches; then  # which batch keeps the vectors' quality on ~700k tokens x 5 epochs (ours only, on the GPU)
  for row in "hs_sg_4096 --loss hs --arch skipgram --batch-size 4096" "hs_cbow_1024 --loss hs --arch cbow --batch-size 1024" \
      "hs_cbow_8192 --loss hs --arch cbow --batch-size 8192" "ft_cbow_4096 --fasttext --arch cbow --batch-size 4096" \
      "neg_default" "neg_cbow_8192 --arch cbow --batch-size 8192"; do
    set -- $row
    name=$1; shift
    bench "$name" 60 --device cuda --only ours "$@"
  done
fi
want hs_gpu_10m || exit 0
big=/tmp/tokens10m.txt
for _ in $(seq 15); do cat "$TOKENS"; done > "$big"
TOKENS=$big bench hs_gpu_10m 120 --loss hs --device cuda --threads 16 --epochs 1
