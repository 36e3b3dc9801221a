"""The suite's shared fixtures and helpers live in tests/support, one plugin per concern.

No test module imports another: helpers are imported from `tests.support.*`, fixtures come from
these plugins by name.
"""

pytest_plugins = [
    "tests.support.fakes",  # an isolated environment, settings, the scripted (fake) chat backend
    "tests.support.network",  # the one network guard: loopback only
    "tests.support.openai_http",  # recorded OpenAI HTTP through respx
    "tests.support.chainlit_harness",  # a Chainlit tab without a browser
    "tests.support.web_client",  # the app's HTTP side, with logins
    "tests.support.visits",  # Mrs. Bertrand's personas and sample visits
]
