"""w2v_core: word2vec (CBOW and Skip-gram) in PyTorch, from raw text to explorable word vectors.

The library behind Word2Vec Explorer. It never imports Streamlit: the app, the command line
(``python -m w2v_core``) and the tests all use the same code.
"""

from w2v_core.errors import W2VError

__all__ = ["W2VError"]
__version__ = "0.1.0"
