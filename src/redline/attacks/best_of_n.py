"""Best-of-N augmentations: cheap random perturbations, sampled many times until one gets through.

After Hughes et al. 2024, "Best-of-N Jailbreaking": each draw perturbs the request slightly;
the seed makes each draw reproducible.
"""

import random

from typing_extensions import override

from redline.attacks.base import Attack, attack

BON_PAPER = "Hughes et al. 2024, Best-of-N Jailbreaking (arXiv 2412.03556)"


@attack("random_caps")
class RandomCaps(Attack):
    """Flip the case of about 60% of the letters."""

    family = "best_of_n"
    description = "random capitalisation"
    randomized = True
    paper = BON_PAPER

    @override
    def apply(self, text: str, rng: random.Random) -> str:
        return "".join(c.swapcase() if c.isalpha() and rng.random() < 0.6 else c for c in text)


@attack("word_scramble")
class WordScramble(Attack):
    """Shuffle the inner letters of words longer than three letters, with probability 0.6."""

    family = "best_of_n"
    description = "middle letters of words scrambled"
    randomized = True
    paper = BON_PAPER

    @override
    def apply(self, text: str, rng: random.Random) -> str:
        words = []
        for word in text.split(" "):
            if len(word) > 3 and word.isalpha() and rng.random() < 0.6:
                middle = list(word[1:-1])
                rng.shuffle(middle)
                word = word[0] + "".join(middle) + word[-1]
            words.append(word)
        return " ".join(words)


@attack("char_noise")
class CharNoise(Attack):
    """Shift about 6% of printable characters by one code point (ASCII noise)."""

    family = "best_of_n"
    description = "random one-step character substitutions"
    randomized = True
    paper = BON_PAPER

    @override
    def apply(self, text: str, rng: random.Random) -> str:
        out = []
        for c in text:
            if 33 <= ord(c) <= 125 and c.isalnum() and rng.random() < 0.06:
                c = chr(ord(c) + rng.choice((-1, 1)))
            out.append(c)
        return "".join(out)


@attack("best_of_n")
class BestOfN(Attack):
    """All three perturbations together, as in the paper's text attack."""

    family = "best_of_n"
    description = "scramble + random caps + character noise"
    randomized = True
    paper = BON_PAPER

    @override
    def apply(self, text: str, rng: random.Random) -> str:
        for step in (WordScramble(), RandomCaps(), CharNoise()):
            text = step.apply(text, rng)
        return text
