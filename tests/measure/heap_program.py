"""A program as a user writes one: pandas and botocore imported, real data built. Run with
tracemalloc from the start (``python -X tracemalloc heap_program.py``), it prints the census's
total and tracemalloc's for the same heap, as JSON (tests/measure/test_census.py)."""

import gc
import json
import random
import sys
import tracemalloc

import botocore.session
import pandas  # noqa: F401

sys.path.insert(0, __file__.rsplit("/", 1)[0])
import corpus
import shoal

random.seed(1)
data = {
    "ec2 model": json.loads(corpus.ec2_model_text()),
    "frame": corpus.pandas_frame("object"),
    "instances": [corpus.Plain(random.random(), corpus.make_text(i)) for i in range(100_000)],
    "events": corpus.CORPUS["datetimes, dates, timedeltas, enums"](),
    "session": botocore.session.get_session(),
}
gc.collect()
traced = tracemalloc.get_traced_memory()[0]
report = shoal.census()
print(json.dumps({"traced": traced, "census": report.total, "python": sys.version.split()[0]}))
