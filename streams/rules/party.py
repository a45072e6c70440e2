"""PEN_FIRST_VIOLATION (应免未免) needs the party's penalty history across cases, so it runs
in the enterprise key space (party USCC, else id_token) on case facts the case worker
forwards there; the logic lives in case.py beside the other penalty rules."""
from .case import PARTY_CODES as CODES  # noqa: F401
from .case import PARTY_INPUTS as INPUTS  # noqa: F401
from .case import evaluate_party as evaluate  # noqa: F401
from .case import party_key as key  # noqa: F401
