"""Home: the pages that summarise every room (the home page) and the health check.

May import: every room but ``demo``.
"""
