#!/usr/bin/env python3
"""Writes tests/reference/tensorboard_events.tfevents: the events of
tests/io/test_tensorboard.cpp, framed and serialized by TensorBoard's own
writer (RecordWriter, the TFRecord framing of its EventFileWriter, and the
event_pb2 / summary_pb2 protobufs), with fixed wall times. The C++ writer
(io/event_file_writer.h) must produce the same bytes.

The events, in order (wall times 1700000000.25, then 1700000001.5, 1700000002
and 1700000003.75):
  file_version "brain.Event:2" (step 0)
  SessionLog START at step 3
  scalars at step 3: loss 0.25, lr 0 (a oneof member at its default is still written), grad_norm 1e-3
  scalars at step 300 (a two-byte varint): loss -1.5
  an image at step 300, tag "samples", height 2, width 3, colorspace 1, and
  200 opaque bytes as the encoded image (a two-byte length)

Usage, from the repository root (tensorboard pinned, as the CLI test pins it):
  python3 -m venv /tmp/tensorboard-venv
  /tmp/tensorboard-venv/bin/pip install tensorboard==2.21.0
  /tmp/tensorboard-venv/bin/python tools/make_tensorboard_fixture.py [--output tests/reference/tensorboard_events.tfevents]
"""
import argparse

from tensorboard.compat.proto import event_pb2, summary_pb2
from tensorboard.summary.writer.record_writer import RecordWriter

IMAGE_BYTES = b"\x89PNG\r\n\x1a\n" + bytes(range(192))


def events():
    start = 1700000000.25
    yield event_pb2.Event(wall_time=start, file_version="brain.Event:2")
    yield event_pb2.Event(wall_time=start, step=3,
                          session_log=event_pb2.SessionLog(status=event_pb2.SessionLog.START))
    scalars = [("loss", 0.25), ("lr", 0.0), ("grad_norm", 1e-3)]
    yield event_pb2.Event(wall_time=1700000001.5, step=3, summary=summary_pb2.Summary(
        value=[summary_pb2.Summary.Value(tag=tag, simple_value=value) for tag, value in scalars]))
    yield event_pb2.Event(wall_time=1700000002.0, step=300, summary=summary_pb2.Summary(
        value=[summary_pb2.Summary.Value(tag="loss", simple_value=-1.5)]))
    image = summary_pb2.Summary.Image(height=2, width=3, colorspace=1, encoded_image_string=IMAGE_BYTES)
    yield event_pb2.Event(wall_time=1700000003.75, step=300, summary=summary_pb2.Summary(
        value=[summary_pb2.Summary.Value(tag="samples", image=image)]))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default="tests/reference/tensorboard_events.tfevents")
    arguments = parser.parse_args()
    with open(arguments.output, "wb") as file:
        writer = RecordWriter(file)
        for event in events():
            writer.write(event.SerializeToString())
        writer.flush()


if __name__ == "__main__":
    main()
