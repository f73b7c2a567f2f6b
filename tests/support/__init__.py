"""What the tests share that is not a fixture: paths, factories, the platform emulator, the
stories the supervision tests tell and the runners of the `duban` command (fixtures stay in
the conftest.py files). No test module imports another; they import from here."""
