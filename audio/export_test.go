package audio

