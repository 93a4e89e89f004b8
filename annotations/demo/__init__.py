"""Demo: seeding the embedded demo (users, songs, generations, reviews, rewards, a trained version).

May import: every room. Nothing imports it but ``manage.py seed_demo``.
"""
