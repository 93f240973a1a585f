# One image, one gossip node (`python -m node`), configured only by GOSSIP_* environment
# variables (docs/configuration.md). docker-compose.yml runs it as `bootstrap` and `peer`.
#
# The base is a build argument so the lab builds where no registry is reachable
# (CI passes a local stand-in: ../shared/ci/docker-lab). Written for the legacy builder too:
# no BuildKit-only syntax (RUN --mount, heredocs).
ARG PYTHON_IMAGE=python:3.12-slim
FROM ${PYTHON_IMAGE}

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app \
    GOSSIP_HOST=0.0.0.0 \
    GOSSIP_PORT=7000 \
    GOSSIP_LOG_FORMAT=json

# Dependencies first, from pyproject.toml and constraints.txt alone: editing the code does not
# reinstall them. pyproject.toml names them; constraints.txt pins each (and theirs) exactly,
# so the image runs the versions the tests ran, whatever was released since.
WORKDIR /app
COPY pyproject.toml constraints.txt ./
RUN python -c "import tomllib; deps = tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']; open('/tmp/requirements.txt', 'w').write(chr(10).join(deps))" \
 && pip install -r /tmp/requirements.txt -c constraints.txt \
 && rm /tmp/requirements.txt \
 && useradd --system --uid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin gossip

# The code. node/movies.txt is a symlink to ../movies.txt; copying the real file to
# /app/movies.txt is what makes it resolve here.
COPY movies.txt ./
COPY node ./node
# Compiled once here: PYTHONDONTWRITEBYTECODE keeps a running node from writing .pyc files,
# so without this every start compiled the node's modules again (0.15 s of CPU a start,
# 15 s for a lab of 100 peers starting together).
RUN python -m compileall -q node

USER gossip
EXPOSE 7000
# Exec form: the node is the process that gets SIGTERM (compose adds `init: true` for reaping).
ENTRYPOINT ["python", "-m", "node"]
# Healthy once bootstrapped with a favourite (/healthz answers 503 before). Bash, not Python
# or curl (slim images have no curl): a check is a `docker exec`, and at 100 peers on 2 cores
# a Python interpreter per check (~30 ms of CPU) was among the busiest processes; bash's
# /dev/tcp does the same request in ~2 ms.
HEALTHCHECK --interval=5s --timeout=3s --start-period=30s --retries=3 \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${GOSSIP_PORT:-7000} && printf 'GET /healthz HTTP/1.0\\r\\n\\r\\n' >&3 && read -r -t 2 status <&3 && [[ $status == *' 200 '* ]]"]
