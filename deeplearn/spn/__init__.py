"""Sum-product networks (Poon and Domingos 2011) as tensorized circuits: exact likelihoods, marginals, MPE and
sampling; LearnSPN, RAT-SPN and HCLT structures; parameters by EM or by SGD through the engine."""
