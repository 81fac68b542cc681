import numpy as np
import pytest

import model_defs


@pytest.mark.parametrize("name", model_defs.MODEL_NAMES)
def test_parameter_count_and_output_shape(name):
    model = model_defs.build(name)
    assert model.count_params() == model_defs.PARAMETER_COUNTS[name]
    batch = np.random.default_rng(0).random((3, *model_defs.INPUT_SHAPE), dtype=np.float32)
    probabilities = np.asarray(model(batch, training=False))
    assert probabilities.shape == (3, model_defs.NUM_CLASSES)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_cnn_layers_are_the_published_ones():
    shapes = [tuple(w.shape) for w in model_defs.build_cnn().weights]
    assert shapes == [
        (5, 5, 1, 32),
        (32,),
        (5, 5, 32, 48),
        (48,),
        (1200, 256),
        (256,),
        (256, 84),
        (84,),
        (84, 10),
        (10,),
    ]


def test_linear_layers_are_the_published_ones():
    shapes = [tuple(w.shape) for w in model_defs.build_linear().weights]
    assert shapes == [(784, 128), (128,), (128, 64), (64,), (64, 32), (32,), (32, 10), (10,)]


def test_unknown_model_name_is_refused():
    with pytest.raises(ValueError, match="unknown model 'resnet'"):
        model_defs.build("resnet")
