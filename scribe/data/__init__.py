"""Count data: validation at the boundary, host-side CSR, device CSR and minibatches."""

from ._annotation import annotation_labels as annotation_labels
from ._annotation import dataset_labels as dataset_labels
from ._batch import Batch as Batch
from ._batch import DistinctPairs as DistinctPairs
from ._batch import PaddedNonzeros as PaddedNonzeros
from ._count_data import CountData as CountData
from ._count_data import load_counts as load_counts
from ._device import DeviceCounts as DeviceCounts
