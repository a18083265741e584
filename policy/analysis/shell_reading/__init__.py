"""A small, conservative reader for the shell programs that Commands run; it executes nothing.

- `lexer`: program text -> tokens (words, operators, redirections, here-document bodies),
  respecting quotes and command and process substitutions;
- `wrappers`: the wrappers in front of a command (`sudo`, `env`, `exec`, `timeout`, ...) and the
  program of `[wrappers] bash -c '<program>'`;
- `expansion`: tokens -> simple commands whose words are expanded as far as provable
  (`parse_program`, `Program`, `Word`), nested `bash -c` programs included.

Import each name from the module that holds it.
"""
