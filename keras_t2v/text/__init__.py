"""Text side of the pipeline: tokenizer, word vectors, sentence VAE, joint embedding."""
