package audio

// PitchPeriod and DropPeriod: see pitchPeriod, dropPeriod.
var PitchPeriod, DropPeriod = pitchPeriod, dropPeriod
