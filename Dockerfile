# One image for web, worker, worker-pdf, beat and migrate (docker-compose.yml picks the command).
FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends \
        libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY . /app
# editable, as README's "Running it for real": templates/ and migrations/ sit beside the packages, not in
# the distribution, so `rems db upgrade` run from a plain install would find no migrations
RUN pip install --no-cache-dir -e . && useradd --create-home rems && mkdir -p /app/instance /var/lib/rems-anchors \
    && chown rems /app/instance /var/lib/rems-anchors
USER rems
EXPOSE 8000
# as README "Running it for real" and the compose web service
CMD ["gunicorn", "-w", "4", "-k", "gthread", "--threads", "4", "-b", "0.0.0.0:8000", "--access-logfile", "-", "rems:create_app()"]
