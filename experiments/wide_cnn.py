"""The companion write-up's wide CNN, trained by the write-up's own recipe, to compare with the served models.

    python -m experiments.wide_cnn --data-dir ../shared/mnist        # its entry in weights/metrics.json
    python -m experiments.wide_cnn --epochs 1 --subset 2000 --data-dir ../shared/mnist --output-dir /tmp/wide

The network is model_defs.build_wide_cnn (Conv 32@5x5, pool, Conv 64@5x5, pool, Dense 1024, Dense 10: 3,274,634
parameters, nine times the served CNN); the recipe is the write-up's: Adam at a constant 1e-3, 5 epochs, batch 128,
no augmentation. It scored 99.23% on MNIST's test set, against 99.61% for the served CNN and the write-up's own
99.72%; its 5 epochs took 45 minutes on a shared 2-core CPU. Takes train.py's options; writes wide_cnn.weights.h5
(13 MB, not committed: its entry says so) and its entry into the output dir's metrics.json, beside the served
models' entries, and redraws curves.png with it.
"""

import sys

import train
from digit_studio.core import mnist_data

RECIPE = {"epochs": 5, "batch_size": 128, "learning_rate": 1e-3, "schedule": "constant"}


def main(argv=None) -> None:
    parser = train.argument_parser("wide_cnn.py", __doc__.split("\n")[0])
    args = parser.parse_args(argv)
    if args.validation and train.serves(args):
        parser.error("--validation needs its own --output-dir, not weights/, which holds the models the app serves")
    try:
        record = {"weights_committed": False} if train.serves(args) else None
        train.train_and_save(args, {"wide_cnn": train.recipe_of(RECIPE, args)}, record=record)
    except (train.UsageError, mnist_data.DataError) as error:
        sys.exit(f"wide_cnn.py: error: {error}")


if __name__ == "__main__":
    main()
