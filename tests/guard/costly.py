"""A backend for tests that need a prefilter without loading the MiniLM encoder."""

from redline.guard._backends import TfidfBackend, backend


@backend("costly-tfidf")
class CostlyTfidf(TfidfBackend):
    """A TF-IDF stage classifier standing in for an encoder one: it gets a prefilter."""

    expensive = True
