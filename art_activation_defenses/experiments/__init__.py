"""Scripted evaluations: the demo, and (later) one module per paper."""

from art_activation_defenses.experiments.demo import DemoConfig, run_demo

__all__ = ["DemoConfig", "run_demo"]
