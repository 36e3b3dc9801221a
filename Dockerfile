# Alliance, one app process per container. Build from the repository root:
#   docker build -t alliance .
# The image holds no language model: in a cluster the patient is played by a separate
# OpenAI-compatible endpoint (OPENAI_BASE_URL, see deploy/). Without one, the app would try to
# fetch its embedded demo model (about 1.1 GB) at the first start; do not run it that way.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# libgomp1: the llama.cpp wheel (xllamacpp) links it. Unused with an endpoint, but `alliance` can load it.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --uid 10001 --user-group alliance

WORKDIR /app

# Dependencies first (a layer that changes only with pyproject.toml or the package).
COPY pyproject.toml README.md ./
COPY agent ./agent
RUN pip install .

# The rest of the checkout: prompts/, personas/, public/, .chainlit/, chainlit*.md, evals/.
COPY . .

# The code reads prompts/ and personas/ beside the package (agent/config.py REPO_ROOT,
# agent/llm/prompts.py), so the checkout's `agent` must be the one imported, not the copy in
# site-packages: PYTHONPATH puts /app first. The installed copy brings the dependencies and the
# `alliance` command.
ENV PYTHONPATH=/app \
    ALLIANCE_DATA_DIR=/var/lib/alliance

# Chainlit writes its other translations into .chainlit/translations at start and makes .files/
# for uploads: do it now, as root, so the running user needs no write access to the code. Chainlit
# removes .files/ at shutdown, hence /app itself (not its contents) belongs to the app user.
RUN python -c "import chainlit.config as c; c.init_config()" \
    && python -m compileall -q agent \
    && install -d -o alliance -g alliance -m 700 /app/.files /var/lib/alliance \
    && chown alliance:alliance /app

USER alliance

EXPOSE 8000

# `/` is Chainlit's page: 200 without a login once the app has started.
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/', timeout=4)" || exit 1

CMD ["chainlit", "run", "agent/web/app.py", "--headless", "--host", "0.0.0.0", "--port", "8000"]
