"""`worker.celery_app` as deployed, plus two test-only broker options (a unique key prefix and a
short visibility timeout), so the integration tests' worker is the real one."""
import os

from tests.worker.worker_proc import transport_options
from worker.celery_app import app

app.conf.broker_transport_options = transport_options(os.environ["REMS_TEST_CELERY_PREFIX"])
celery = app
