"""Text in, token ids out: everything between a corpus a user names and the one int32 array the trainer reads.

``corpus``        Corpus (token ids + document offsets + vocabulary counts), CorpusConfig, the tokenizer, builders
``textfile``      reading a text file in whatever encoding it came in
``sources``       local files, folders and uploads as corpus sources (and what a shared server allows)
``hub``           Hugging Face Hub datasets (WikiText), streamed and cached
``bundled``       the small corpora and benchmark files that ship inside gensim's wheel
``corpus_cache``  tokenised corpora kept on disk, keyed by what made them
``loader``        ``load_corpus``: a CorpusConfig -> a Corpus, through the cache, with the server's path policy

This group imports nothing from the rest of the library except ``errors`` and ``settings`` (the server's mode),
so the word2vec core builds on it and never the other way round. This file imports nothing on purpose: importing
``w2v_core.data.corpus`` must not load the Hub client.
"""
