"""Tests of the bundle generators."""
