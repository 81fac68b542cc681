"""The pure ML core: any picture to MNIST's 28x28, segmenting a number, the evidence maps and stress test, the data and
the drawn digits MNIST lacks. numpy, Pillow, SciPy and Keras only: no Gradio, no web."""
