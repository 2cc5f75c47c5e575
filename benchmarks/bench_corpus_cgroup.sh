#!/bin/bash
# One epoch of bench_corpus.py's file (cache folder $2, dim $3) in a child memory cgroup of this shell's own, limited to $1 MB
# (cgroup v1, run as a user who may create one); rmdir it once this shell has exited.
CG=/sys/fs/cgroup/memory$(grep memory /proc/self/cgroup | cut -d: -f3)/w2v-lowmem
mkdir -p $CG
echo $(( $1 * 1024 * 1024 )) > $CG/memory.limit_in_bytes
echo $$ > $CG/cgroup.procs
W2V_CACHE_DIR=$2 python "$(dirname "$0")/train_mapped.py" /tmp/w2v-bench-corpus/big.txt $3
echo "rc=$? cgroup max usage MB: $(( $(cat $CG/memory.max_usage_in_bytes) / 1024 / 1024 )) failcnt $(cat $CG/memory.failcnt) limit MB $1"
