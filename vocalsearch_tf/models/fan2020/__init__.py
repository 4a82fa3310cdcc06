"""Fan et al. 2020's model (ICASSP 2020, notebook 08): layers, the variants and their builder, the presence matrix."""

from vocalsearch_tf.models.fan2020.layers import (AttentionPooling, GroupedBatchNormalization, GroupedDense,
                                                  RepeatGroups)
from vocalsearch_tf.models.fan2020.model import MLP, TOWER, VARIANTS, FanConfig, build_branch, build_fan, groups_of
from vocalsearch_tf.models.fan2020.presence import (N_CATEGORIES, RANKING_RULES, SITUATIONS, argmax_ranking_scores,
                                                    presence_matrix, rank, ranking_scores, similarity_level,
                                                    situations)

__all__ = ["AttentionPooling", "GroupedBatchNormalization", "GroupedDense", "RepeatGroups", "MLP", "TOWER", "VARIANTS",
           "FanConfig", "build_branch", "build_fan", "groups_of", "N_CATEGORIES", "RANKING_RULES", "SITUATIONS",
           "argmax_ranking_scores", "presence_matrix", "rank", "ranking_scores", "similarity_level", "situations"]
