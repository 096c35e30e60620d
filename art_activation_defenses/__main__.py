"""``python -m art_activation_defenses`` runs the command-line interface."""

from art_activation_defenses.cli import main

raise SystemExit(main())
