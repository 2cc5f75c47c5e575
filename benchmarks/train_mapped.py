"""One epoch over a cached corpus (argv: the text file, the dimension), with peak RSS: run by bench_corpus_cgroup.sh."""
import sys, time, resource
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1]))
from w2v_core.data.corpus import CorpusConfig
from w2v_core.data.loader import load_corpus
from w2v_core.models import ModelConfig
from w2v_core.training import TrainConfig, Trainer
c = load_corpus(CorpusConfig(source=sys.argv[1]), any_path=True)
print("corpus", c, type(c.ids).__name__, flush=True)
t = time.perf_counter()
r = Trainer(c, ModelConfig(arch="skipgram", dim=int(sys.argv[2]), min_count=5), TrainConfig(epochs=1)).train()
print("trained", r.summary.get("final_loss"), f"{time.perf_counter()-t:.0f}s", "peak RSS MB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024, flush=True)
