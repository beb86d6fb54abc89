"""Tests of protection: the policy engine, actions, the guard and the shutdown simulator."""
