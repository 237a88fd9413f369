"""Commands: the application layer between HTTP and the pure deciders.

One module per resource kind. A command loads a typed snapshot of what the decision
needs (rows with their sequences, claims, live agents, the clock), calls the pure
decider and returns its Plan; the HTTP layer hands that plan to the one executor
(``writer.run_with_retries``). Commands never see a request or a response, and may
import each other, the store views and the deciders, but never an HTTP module.
"""
