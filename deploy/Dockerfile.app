# The assistant's own code on Python 3.11: the gateway (default command, `python -m bot`), the
# action server (`python -m actions`) and the database job (`sh deploy/migrate.sh`), one image.
# Built by docker-compose.yml (context: the repository root; needs BuildKit, the default of
# Docker Engine 23+ and Compose v2, or DOCKER_BUILDKIT=1).
#
# Build arguments (compose: the variables in brackets, deploy/env.example):
#   PYTHON_IMAGE   the base image [APP_PYTHON_IMAGE, python:3.11-slim]: any Debian-like image
#                  with `python` (3.11+) and `pip`, e.g. a copy in a station's own registry,
#                  or the stand-in `make test-deploy` builds where no registry is reachable
#   PIP_INDEX_URL  where pip finds the pinned packages [PIP_INDEX_URL, https://pypi.org/simple]

ARG PYTHON_IMAGE=python:3.11-slim

# --- the project as a wheel (packages and their data: migrations, web chat, console) --------
FROM ${PYTHON_IMAGE} AS wheel
ARG PIP_INDEX_URL=https://pypi.org/simple
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY actions/ actions/
COPY bot/ bot/
COPY nlu/ nlu/
COPY store/ store/
RUN pip wheel --no-deps --wheel-dir /wheels .

# --- the runtime image -----------------------------------------------------------------------
FROM ${PYTHON_IMAGE}
ARG PIP_INDEX_URL=https://pypi.org/simple

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    SQLALCHEMY_SILENCE_UBER_WARNING=1 \
    CONF_DIR=/app/conf \
    NLU_PROJECT_DIR=/app

# What the evaluation reports' PDF needs of the system (store/quality_reports/pdf.py: WeasyPrint
# lays the report out with Pango and embeds a Chinese font): Debian's packages, as scripts/setup.sh
# installs them on a developer's machine.
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 fonts-noto-cjk \
 && rm -rf /var/lib/apt/lists/*

# The runtime dependencies as pyproject.toml pins them ([project].dependencies, all `==`; not
# the dev extras), every indirect one at the version of requirements/main.txt, the lock .venv
# installs (requirements/app-constraints.txt: its pins without hashes, written by `make lock`):
# two builds a week apart install the same. A layer of its own: a code change does not reinstall.
COPY pyproject.toml requirements/app-constraints.txt /tmp/
RUN python -c "import tomllib; deps = tomllib.load(open('/tmp/pyproject.toml', 'rb'))['project']['dependencies']; open('/tmp/requirements.txt', 'w').write(chr(10).join(deps) + chr(10))" \
 && pip install -r /tmp/requirements.txt -c /tmp/app-constraints.txt \
 && rm /tmp/pyproject.toml /tmp/requirements.txt /tmp/app-constraints.txt

# The project itself (its dependencies are already there).
RUN --mount=type=bind,from=wheel,source=/wheels,target=/tmp/wheels \
    pip install --no-deps /tmp/wheels/*.whl

# What the code reads at run time from /app: conf/ (CONF_DIR), endpoints.yml (the action
# server looks for tracing settings in it), the domain and training data (the console's NLU
# pages read them; retraining is not available in the containers), the deploy helpers.
WORKDIR /app
COPY conf/ conf/
COPY config.yml domain.yml endpoints.yml ./
COPY data/ data/
COPY deploy/healthcheck.py deploy/migrate.sh deploy/

# Not root: the files above belong to root and stay read-only for the services. models/ is the
# one directory they write: the console's NLU jobs take their lock there at the gateway's start
# (retraining itself needs Rasa beside the gateway, which these containers do not have).
RUN useradd --system --uid 10001 --user-group --home-dir /app --no-create-home app \
 && install -d -o app -g app /app/models
USER app

EXPOSE 8080 5055
CMD ["python", "-m", "bot"]
