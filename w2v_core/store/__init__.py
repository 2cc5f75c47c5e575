"""Model folders on disk: how a trained model is saved, listed, loaded, shared and imported.

:func:`read_record` reads what a folder says about itself (settings, training summary, scores, file stamps)
into a :class:`ModelRecord` without loading the weights; :func:`list_records` lists them; :func:`load_model`
loads the vectors.

A model folder holds only data formats that cannot run code when opened:

    config.json          how it was made (corpus, model and training configs, summary), its name, format version
    vocab.tsv            word <TAB> corpus count, one per line, in row order
    weights.safetensors  ``in`` (the word vectors, V x D), ``out`` (output table) and ``out_bias`` when trained
    vectors.txt          the word vectors in word2vec text format (gensim's ``load_word2vec_format`` reads it)
    history.json         the loss curve (per report and per epoch)
    scores.json          benchmark scores, once evaluated

No pickle anywhere: a folder that carries a pickle-based file (``.pkl``, ``.pt``, ...) or whose weights are not valid
safetensors is refused with a message. Every model that is opened, listed or imported is validated (config.json
against one schema, finite float tables of the right shapes), so a damaged or hostile folder raises W2VError with one
sentence and nothing else.

Nothing we did not write is ever deleted or overwritten: a save refuses a destination holding other files before any
work starts, deleting a model removes only the files a model is made of, and every temporary name carries a marker
(see ``disk``'s "our own names") so the leftovers of a killed save are recognised and finished or cleaned on the
next listing. A save writes a new folder and renames it in, so a crash never leaves a half-written model.

The package, one idea a module (callers import every name from ``w2v_core.store``):

``disk``     where model folders live, the files they are made of, crash-safe marker names, repair, atomic writes
``format``   the folder format: validation (config.json's schema, the tables), load, save, rename, delete
``records``  :class:`ModelRecord` (what a folder says about itself), the listing, :func:`mtime_stamp`
``share``    zip export and import (untrusted: capped and checked), imported word2vec vectors, export formats
"""

from w2v_core.store.disk import (CONFIG, FORMAT, FORMAT_VERSION, HISTORY, KNOWN_FILES, MAX_CONFIG_BYTES,
                                 PICKLE_SUFFIXES, SCORES, SNAPSHOTS, STALE_AFTER_S, VECTORS_TXT, VOCAB, WEIGHTS,
                                 atomic_write_bytes, check_export_destination, check_model_destination,
                                 check_writable_folder, is_model_folder,
                                 models_dir, repair_models_dir, slug)
from w2v_core.store.format import (MAX_NAME_CHARS, SAFETENSORS_DTYPES, SCORE_KEYS, Model, delete_model, load_model,
                                   new_model_slot, read_config, read_tensors, rename_model, save_model, save_scores,
                                   validate_config, validate_tensors)
from w2v_core.store.records import ModelRecord, list_records, mtime_stamp, read_record
from w2v_core.store.share import (MAX_IMPORT_BYTES, MAX_ZIP_MEMBERS, check_snapshots_file, export_model, import_vectors,
                                  import_zip, model_size_bound, public_config, zip_model)

__all__ = ["CONFIG", "FORMAT", "FORMAT_VERSION", "HISTORY", "KNOWN_FILES", "MAX_CONFIG_BYTES",
           "MAX_IMPORT_BYTES", "MAX_NAME_CHARS", "MAX_ZIP_MEMBERS", "PICKLE_SUFFIXES", "SAFETENSORS_DTYPES",
           "SCORE_KEYS", "SCORES", "SNAPSHOTS", "STALE_AFTER_S", "VECTORS_TXT", "VOCAB", "WEIGHTS", "Model",
           "ModelRecord", "atomic_write_bytes", "check_export_destination", "check_model_destination",
           "check_snapshots_file", "check_writable_folder", "delete_model",
           "export_model", "import_vectors", "import_zip", "is_model_folder", "list_records", "load_model",
           "model_size_bound", "models_dir", "mtime_stamp", "new_model_slot", "public_config", "read_config",
           "read_record",
           "read_tensors", "rename_model", "repair_models_dir", "save_model", "save_scores", "slug",
           "validate_config", "validate_tensors", "zip_model"]
