"""Rewards: reward functions' values per generation, reward profiles, composite rewards.

Owns: ``RewardValue``, ``RewardProfile``, ``CompositeReward``; recomputing rewards when a generation
finishes or a review is submitted (``receivers`` → ``services.rewards``), the rewards pages.

A submitted review becomes reward rows here: ``receivers.py`` (``review_submitted``) →
``services/rewards.py`` (``rewards_schedule_for_review`` → ``rewards_recompute``).

May import: ``core``, ``songs``, ``generations``, ``reviews``; ``modeling.rewards`` inside functions.
"""
