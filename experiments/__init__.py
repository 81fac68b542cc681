"""Research scripts that reproduce a figure; each imports the trainer's pieces from train.py."""
