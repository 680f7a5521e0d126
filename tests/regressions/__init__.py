"""One regression test per bypass in the threat catalogue."""
