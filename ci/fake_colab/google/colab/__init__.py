"""A stand-in for Colab's ``google.colab`` package, for the Colab-parity tests only.

Importing it makes ``"google.colab" in sys.modules`` true, which is how the
course's setup cell recognises Colab.
"""
