"""Routing: one ACD for every channel (queues, skills, customer tiers, agent states, offers)."""
