"""Reusable codemods, one per module; the recipe names them by the keys of CODEMODS."""
from patcher.codemods.binary_write import BinaryWrite
from patcher.codemods.disable_v2 import DisableV2
from patcher.codemods.dynamic_head_size import DynamicHeadSize
from patcher.codemods.dynamic_resize import DynamicResize
from patcher.codemods.floor_division import FloorDivision
from patcher.codemods.head_to_input import HeadToInput
from patcher.codemods.open_placeholder import OpenPlaceholder
from patcher.codemods.replace_import import ReplaceImport
from patcher.codemods.tf_compat_v1 import TfCompatV1
from patcher.codemods.uncomment_call import UncommentCall

CODEMODS = {
    "open_placeholder": OpenPlaceholder,
    "uncomment_call": UncommentCall,
    "dynamic_resize": DynamicResize,
    "dynamic_head_size": DynamicHeadSize,
    "head_to_input": HeadToInput,
    "tf_compat_v1": TfCompatV1,
    "disable_v2": DisableV2,
    "floor_division": FloorDivision,
    "replace_import": ReplaceImport,
    "binary_write": BinaryWrite,
}
