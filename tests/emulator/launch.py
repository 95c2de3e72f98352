"""Starts moto's server (the test emulator) with hikkonuki's model of the AWS operations moto lacks.

OUR MODEL OF AWS, NOT AWS. moto 5.2.5 does not implement some operations hikkonuki's cuts call. Each
module in `aws_model/` adds a few of them to moto at start-up, written from AWS's API reference (the
documented request parameters, response shapes and errors, cited in the module), with just enough state
for plan -> apply -> restore to run end to end. Passing against this model shows that hikkonuki speaks
the documented shapes and keeps its journal right; it does not show what AWS does. Every path through a
modelled operation is also tested with aws-smithy-mocks built from the documented responses.

`server_speed.py` then spares moto's server work that does not depend on the request; it changes no answer.

Run by the test harness (tests/it/emulator.rs) and scripts/emulator.sh with the virtualenv's Python:
    python tests/emulator/launch.py -H 127.0.0.1 -p PORT
The arguments are moto_server's.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import aws_model  # noqa: E402  (after the path is set)
import server_speed  # noqa: E402

aws_model.install()
server_speed.install()

from moto.server import main  # noqa: E402  (after the model is installed)

if __name__ == "__main__":
    main(sys.argv[1:])
