"""Risk: the check catalogue and pure rules from joined facts to 0/1 findings."""
