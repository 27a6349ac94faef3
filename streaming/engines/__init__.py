"""Pluggable speech engines that turn stream audio into transcript results."""
