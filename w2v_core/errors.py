"""The one error type for problems a user can fix.

Every message says what went wrong *and* what to do about it. The app shows it with ``st.error``;
the command line prints it on one line and exits with status 2. Bugs stay ordinary exceptions.
"""


class W2VError(Exception):
    """A problem the user can fix (bad file, bad setting, unknown word, ...)."""
